"""An equal budget for every method: extract+solve rollouts, tokens and LLM calls across all roles.

Rollouts alone undercount agentic work (an episode of 30 steps is one rollout and 31 calls), so a budget
may also cap the tokens and the calls that reached an endpoint. A resumed run starts from what the run
already spent (its usage journal).

Every method spends in units (a CluE/MemEvolve round, a GEPA iteration, an ACE sample) and starts a unit only
when it can finish it (`start_unit`): its worst-case rollouts must fit what is left, and the tokens and calls
left must cover the largest unit finished so far. Before any unit has finished there is no such estimate; the
caps then still stop work at the first check past them (`reserve`).
"""

from __future__ import annotations

from dataclasses import dataclass

from clue.llm.ledger import Ledger


class BudgetExhausted(Exception):
    """Raised before work that would overrun the budget; the optimizer returns its best so far."""


@dataclass(frozen=True)
class UnitCost:
    """Tokens and endpoint calls: a unit's cost, or the meter's reading when a unit started."""

    tokens: int = 0
    calls: int = 0


@dataclass(frozen=True)
class Budget:
    max_rollouts: int | None = None
    max_tokens: int | None = None
    max_calls: int | None = None


class BudgetMeter:
    """Counts only work actually done: a rollout or an LLM reply served from cache is free."""

    def __init__(self, budget: Budget, ledger: Ledger, *, rollouts_spent: int = 0, tokens_spent: int = 0,
                 calls_spent: int = 0) -> None:
        self.budget = budget
        self.ledger = ledger
        self.rollouts_spent = rollouts_spent
        # Spent before this process started (a resumed run) plus what the ledger counts from now on.
        self._tokens_before = tokens_spent - ledger.total_tokens()
        self._calls_before = calls_spent - ledger.total_calls()
        self.largest_unit = UnitCost()  # the costliest unit (round, iteration, sample) finished in this process

    @property
    def tokens_spent(self) -> int:
        return self._tokens_before + self.ledger.total_tokens()

    @property
    def calls_spent(self) -> int:
        return self._calls_before + self.ledger.total_calls()

    def remaining_rollouts(self) -> int | None:
        if self.budget.max_rollouts is None:
            return None
        return max(self.budget.max_rollouts - self.rollouts_spent, 0)

    def _spent_out(self) -> str | None:
        if self.budget.max_tokens is not None and self.tokens_spent >= self.budget.max_tokens:
            return f"token budget spent ({self.tokens_spent}/{self.budget.max_tokens})"
        if self.budget.max_calls is not None and self.calls_spent >= self.budget.max_calls:
            return f"call budget spent ({self.calls_spent}/{self.budget.max_calls})"
        return None

    def exhausted(self) -> bool:
        if self._spent_out() is not None:
            return True
        remaining = self.remaining_rollouts()
        return remaining is not None and remaining <= 0

    def reserve(self, new_rollouts: int) -> None:
        """Refuse work that cannot be finished within the budget, before any of it starts. `reserve(0)` checks
        the token and call budgets before LLM work that runs no rollout (an optimizer's analysis)."""
        reason = self._spent_out()
        if reason is not None:
            raise BudgetExhausted(reason)
        remaining = self.remaining_rollouts()
        if remaining is not None and new_rollouts > remaining:
            raise BudgetExhausted(
                f"rollout budget: {new_rollouts} more needed, {remaining} of {self.budget.max_rollouts} left")

    def start_unit(self, unit: str, worst_rollouts: int) -> UnitCost:
        """Refuse to start `unit` (e.g. "round 2") unless it can finish within the budget: its worst-case new
        rollouts fit, and the tokens and calls left cover the largest unit finished so far. Returns the reading
        to give `finish_unit`."""
        reason = self._spent_out()
        if reason is not None:
            raise BudgetExhausted(reason)
        remaining = self.remaining_rollouts()
        if remaining is not None and worst_rollouts > remaining:
            raise BudgetExhausted(f"rollout budget: {unit} needs up to {worst_rollouts} rollouts, {remaining} of "
                                  f"{self.budget.max_rollouts} left")
        largest = self.largest_unit
        if self.budget.max_tokens is not None and largest.tokens > self.budget.max_tokens - self.tokens_spent:
            raise BudgetExhausted(f"token budget: {unit} may need {largest.tokens} tokens (the largest unit so far), "
                                  f"{self.budget.max_tokens - self.tokens_spent} of {self.budget.max_tokens} left")
        if self.budget.max_calls is not None and largest.calls > self.budget.max_calls - self.calls_spent:
            raise BudgetExhausted(f"call budget: {unit} may need {largest.calls} calls (the largest unit so far), "
                                  f"{self.budget.max_calls - self.calls_spent} of {self.budget.max_calls} left")
        return UnitCost(self.tokens_spent, self.calls_spent)

    def finish_unit(self, started: UnitCost) -> None:
        cost = UnitCost(self.tokens_spent - started.tokens, self.calls_spent - started.calls)
        self.largest_unit = UnitCost(max(self.largest_unit.tokens, cost.tokens),
                                     max(self.largest_unit.calls, cost.calls))

    def charge(self, new_rollouts: int) -> None:
        self.rollouts_spent += new_rollouts

    def summary(self) -> dict[str, int | None]:
        return {"rollouts_spent": self.rollouts_spent, "tokens_spent": self.tokens_spent,
                "calls_spent": self.calls_spent, "max_rollouts": self.budget.max_rollouts,
                "max_tokens": self.budget.max_tokens, "max_calls": self.budget.max_calls}


def budget_error(exc: BaseException) -> BudgetExhausted | None:
    """The budget stop inside an error (concurrent steps raise it inside exception groups), or None."""
    if isinstance(exc, BudgetExhausted):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = budget_error(inner)
            if found is not None:
                return found
    return None


def unwrap(exc: BaseException) -> BaseException:
    """The single error inside (nested) one-member exception groups, so callers see e.g. an LLMError."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
