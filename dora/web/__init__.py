"""The status page server and the HTML/SVG rendering it shares with the P&L report."""
