"""Logistics: distances, the cost of moving produce, and (later) shipments and routes."""
