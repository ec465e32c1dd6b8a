"""Insights for programme staff: trends, price anomalies, impact indicators, exports and the
audit trail. Reads everything, writes only rollups and review notes."""
