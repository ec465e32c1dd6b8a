"""Orders: bulk orders split per cooperative, stock reservation, lifecycle, payments, ledger."""
