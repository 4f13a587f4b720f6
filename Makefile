.PHONY: run test lint bench
# Start the whole product (creates .venv, installs, migrates, seeds, starts daphne + Celery).
run:
	bash scripts/run.sh
# Install what tests need and run the whole suite (embedded defaults unless DATABASE_URL/REDIS_URL).
test:
	bash scripts/test.sh
lint:
	bash scripts/bootstrap.sh dev
	TESTING=1 .venv/bin/ruff check .
	TESTING=1 .venv/bin/mypy
