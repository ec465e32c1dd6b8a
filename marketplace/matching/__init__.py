"""Buyer demands (RFQ), the allocation optimiser and cooperatives' offers."""
