# The two README commands. The work is in scripts/ (idempotent, non-interactive).
.PHONY: run test install services upgrade

## make run: install, start RabbitMQ, upgrade the schema, start every Procfile process
run:
	bash scripts/run.sh

## make test: install, start RabbitMQ, install chromium, run pytest (ARGS="tests/test_config.py -x")
test:
	bash scripts/test.sh $(ARGS)

## make install: only the .venv with requirements.txt
install:
	bash -c 'source scripts/lib.sh && ensure_venv'

## make services: only RabbitMQ (installed, running, management UI on :15672)
services:
	bash -c 'source scripts/lib.sh && ensure_rabbitmq'

## make upgrade: only the schema upgrade
upgrade: install
	.venv/bin/flask --app app db upgrade
