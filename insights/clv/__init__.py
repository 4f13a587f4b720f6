"""Predicted CLV and churn: BG/NBD + Gamma-Gamma (docs/metrics.md). Pure maths in bgnbd, summary and
predict; storage in models; fitting from the orders in services; reads in selectors."""
