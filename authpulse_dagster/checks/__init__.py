"""Asset checks beyond those the assets carry themselves (silver's live in ``assets/silver.py``)."""
