# The two README commands. The work is in scripts/ (idempotent, non-interactive).
.PHONY: run test install services upgrade drill-cluster

## make run: install, start RabbitMQ, upgrade the schema, start every Procfile process
run:
	bash scripts/run.sh

## make test: install, start RabbitMQ and PostgreSQL, install chromium, run pytest on both
## database engines (ARGS="tests/test_config.py -x"; ARGS="--postgres=off" for SQLite only)
test:
	bash scripts/test.sh $(ARGS)

## make install: only the .venv with requirements.txt
install:
	bash -c 'source scripts/lib.sh && ensure_venv'

## make services: only the services, RabbitMQ (management UI on :15672) and PostgreSQL
## (127.0.0.1:5432, user postgres without a password, as the tests use it)
services:
	bash -c 'source scripts/lib.sh && ensure_venv && ensure_rabbitmq && ensure_postgres'

## make upgrade: only the schema upgrade
upgrade: install
	.venv/bin/flask --app app db upgrade

## make drill-cluster: the multi-host drill (network namespaces, three pbxsim PBX hosts,
## one killed mid-campaign, then the same hosts deployed by the playbook); root, PostgreSQL
drill-cluster:
	CALLCAST_CLUSTER_DRILL=1 bash scripts/test.sh tests/ops/test_cluster.py tests/ops/test_cluster_deployed.py -rP
