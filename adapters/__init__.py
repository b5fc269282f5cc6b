"""Partner-format adapters: each translates canonical messages to and from one partner format."""
