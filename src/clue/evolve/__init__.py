"""Self-evolution of the extraction prompt: one optimizer protocol, one shared harness, one budget."""
