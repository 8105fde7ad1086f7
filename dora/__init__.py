"""dora: a market-making bot for Kalshi."""

__version__ = "0.1.0"
