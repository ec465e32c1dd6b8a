"""Shared pieces every domain package builds on."""
