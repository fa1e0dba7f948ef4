"""An equal budget for every method: extract+solve rollouts and/or tokens across all roles."""

from __future__ import annotations

from dataclasses import dataclass

from clue.llm.ledger import Ledger


class BudgetExhausted(Exception):
    """Raised before work that would overrun the budget; the optimizer returns its best so far."""


@dataclass(frozen=True)
class Budget:
    max_rollouts: int | None = None
    max_tokens: int | None = None


class BudgetMeter:
    """Counts only work actually done: a rollout or an LLM reply served from cache is free."""

    def __init__(self, budget: Budget, ledger: Ledger, *, rollouts_spent: int = 0, tokens_spent: int = 0) -> None:
        self.budget = budget
        self.ledger = ledger
        self.rollouts_spent = rollouts_spent
        # Tokens spent before this process started (a resumed run) plus what the ledger counts from now on.
        self._tokens_before = tokens_spent - ledger.total_tokens()

    @property
    def tokens_spent(self) -> int:
        return self._tokens_before + self.ledger.total_tokens()

    def remaining_rollouts(self) -> int | None:
        if self.budget.max_rollouts is None:
            return None
        return max(self.budget.max_rollouts - self.rollouts_spent, 0)

    def exhausted(self) -> bool:
        if self.budget.max_tokens is not None and self.tokens_spent >= self.budget.max_tokens:
            return True
        remaining = self.remaining_rollouts()
        return remaining is not None and remaining <= 0

    def reserve(self, new_rollouts: int) -> None:
        """Refuse work that cannot be finished within the budget, before any of it starts."""
        if self.budget.max_tokens is not None and self.tokens_spent >= self.budget.max_tokens:
            raise BudgetExhausted(f"token budget spent ({self.tokens_spent}/{self.budget.max_tokens})")
        remaining = self.remaining_rollouts()
        if remaining is not None and new_rollouts > remaining:
            raise BudgetExhausted(
                f"rollout budget: {new_rollouts} more needed, {remaining} of {self.budget.max_rollouts} left")

    def charge(self, new_rollouts: int) -> None:
        self.rollouts_spent += new_rollouts

    def summary(self) -> dict[str, int | None]:
        return {"rollouts_spent": self.rollouts_spent, "tokens_spent": self.tokens_spent,
                "max_rollouts": self.budget.max_rollouts, "max_tokens": self.budget.max_tokens}
