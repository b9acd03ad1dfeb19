# The two commands of README.md. Both install what they need first (scripts/install.sh is idempotent).
VENV := .venv/bin
OUT ?= wirelessdata-out

.PHONY: install demo test test-all lint docs

install:
	bash scripts/install.sh

# Main job: a small default corpus, paired sub-6 GHz and 28 GHz shards, then validation.
demo: install
	$(VENV)/wirelessdata generate --bands sub6,28GHz --out $(OUT)
	$(VENV)/wirelessdata validate $(OUT)

# Tests: the fast suite, then the slow end-to-end tests (they fit in CI's time).
test: install
	$(VENV)/python -m pytest -q
	$(VENV)/python -m pytest -q -m slow

lint: install
	$(VENV)/ruff check .
	$(VENV)/lint-imports

docs: install
	$(VENV)/wirelessdata schema --markdown -o docs/schema.md
