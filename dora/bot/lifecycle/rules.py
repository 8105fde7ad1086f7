"""Market rules as the exchange lists them, and what changed since dora last read them.

Every read of markets goes through :class:`RulesWatch`: a market whose status, close time or tick
grid changed is reported as a DRIFT event with before, after and what dora does about it, and the
new rules are in ``BotState.rules`` before the cycle's quoting, so the change is acted on in the
cycle that saw it. A market the exchange no longer lists loses its rules (it is then not quoted).
"""

from __future__ import annotations

from collections.abc import Sequence

from dora.bot.lifecycle.parts import LifecycleParts, log_drift
from dora.core.models import MarketRules
from dora.core.viability import RuleChange, rule_changes

ACTIONS = {
    "status": "quoting follows the status (only an active market is quoted)",
    "close_time": "the close guard and position closing follow the new close time",
    "price_level_structure": "quotes snap to the new tick grid",
}


class RulesWatch:
    def __init__(self, parts: LifecycleParts) -> None:
        self._p = parts

    def read(self, tickers: Sequence[str]) -> dict[str, MarketRules]:
        """Fetch the markets' rules, report changes, and keep them; the markets as listed."""
        if not tickers:
            return {}
        state = self._p.state
        fetched = {m.ticker: m for m in self._p.client.fetch_markets(tickers=list(tickers))}
        for ticker, rules in fetched.items():
            known = state.rules.get(ticker)
            if known is not None:
                for change in rule_changes(known, rules):
                    self._report(ticker, change)
        for ticker in tickers:
            if ticker not in fetched and ticker in state.rules:
                del state.rules[ticker]
                log_drift(self._p, "market", "the exchange no longer lists the market",
                          market=ticker, before="listed", after="not listed",
                          action="not quoted")
        state.rules.update(fetched)
        state.last_sync_ms["markets"] = self._p.clock.now_ms()
        return fetched

    def _report(self, ticker: str, change: RuleChange) -> None:
        log_drift(self._p, "market", f"market {change.field} changed", market=ticker,
                  field=change.field, before=change.before, after=change.after,
                  action=ACTIONS[change.field])
