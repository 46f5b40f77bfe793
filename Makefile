# AuthPulse. Every target installs what it needs itself.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# JVM jars for local Spark (Iceberg runtime, SQLite JDBC), pinned in jvm/pom.xml; cached, git-ignored.
JARS := .jars
JARS_STAMP := $(JARS)/.fetched
# The project's own JVM code (jvm/src: the stream's dedup state operator), compiled against pyspark's jars.
STREAMING_JAR := $(JARS)/authpulse-streaming.jar
JAVA_SOURCES := $(wildcard jvm/src/main/java/dev/authpulse/*/*.java)
export AUTHPULSE_HOME ?= $(CURDIR)/.authpulse
export DAGSTER_HOME ?= $(AUTHPULSE_HOME)/dagster
PYTEST_ARGS ?=
# TEST_WORKERS=N runs the tests on N pytest workers (one file per worker, in collection order).
# Default 1: on a 2-core machine the suite is CPU-bound (each Spark test's JVM uses both cores);
# two workers measured no faster (42-58 min against 40 min serial in CI).
TEST_WORKERS ?= 1
XDIST = $(if $(filter-out 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)

.PHONY: install jars demo dev test test-fast bench evaluate local-up local-down check-java emr-package cdk-synth clean

install: $(STAMP) $(JARS_STAMP) $(STREAMING_JAR)

jars: $(JARS_STAMP) $(STREAMING_JAR)

$(JARS_STAMP): jvm/pom.xml
	@command -v mvn >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && (apt-get update -qq && apt-get install -y -qq maven) >/tmp/authpulse-apt.log 2>&1; } || true
	@command -v mvn >/dev/null || { echo "error: Maven not found; install it (apt-get install maven): it fetches the Iceberg Spark jars"; exit 1; }
	@mvn -q -B -f jvm/pom.xml dependency:copy-dependencies -DoutputDirectory=../$(JARS) -DincludeScope=runtime >/tmp/authpulse-mvn.log 2>&1 || { echo "error: Maven could not fetch the jars in jvm/pom.xml (see /tmp/authpulse-mvn.log); check the network or ~/.m2/settings.xml"; exit 1; }
	touch $(JARS_STAMP)

$(STREAMING_JAR): $(JAVA_SOURCES) $(STAMP)
	@command -v javac >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && (apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless) >/tmp/authpulse-apt.log 2>&1; } || true
	@command -v javac >/dev/null || { echo "error: javac not found; install a JDK 17 (apt-get install openjdk-17-jdk-headless): it compiles jvm/src"; exit 1; }
	@rm -rf build/jvm && mkdir -p build/jvm $(JARS)
	@javac --release 17 -nowarn -d build/jvm -cp "$$($(BIN)/python -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')/jars/*" $(JAVA_SOURCES) >/tmp/authpulse-javac.log 2>&1 || { echo "error: jvm/src does not compile (see /tmp/authpulse-javac.log)"; exit 1; }
	@cd build/jvm && $(CURDIR)/$(BIN)/python -m zipfile -c $(CURDIR)/$(STREAMING_JAR) dev

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	@$(MAKE) --no-print-directory check-java
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

check-java:
	@java_bin="$${JAVA_HOME:+$$JAVA_HOME/bin/}java"; \
	command -v "$$java_bin" >/dev/null 2>&1 || { echo "error: Java 17+ not found; install it (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME"; exit 1; }; \
	v=$$("$$java_bin" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1); \
	[ "$${v:-0}" -ge 17 ] || { echo "error: Java $$v found, Spark 4 needs Java 17+; install OpenJDK 17 or set JAVA_HOME"; exit 1; }

# Generate 12 days of LANL 2015 data with labelled attacks, run every asset through Dagster, stream one more day.
demo: install
	$(BIN)/authpulse demo

# The local stack plus the Dagster UI (webserver and daemon) on 127.0.0.1:3000.
dev: install
	$(BIN)/authpulse local up
	mkdir -p $(DAGSTER_HOME) && test -f $(DAGSTER_HOME)/dagster.yaml || printf 'telemetry:\n  enabled: false\n' > $(DAGSTER_HOME)/dagster.yaml
	eval "$$($(BIN)/authpulse local env)" && $(BIN)/dagster dev -h 127.0.0.1 -p $${DAGSTER_PORT:-3000} -w workspace.yaml

# Every test, slow end-to-end ones included (what CI runs).
test: install
	PYSPARK_PYTHON=$(CURDIR)/$(BIN)/python $(BIN)/pytest $(XDIST) $(PYTEST_ARGS)

# The quick loop: everything but the tests marked slow.
test-fast: install
	PYSPARK_PYTHON=$(CURDIR)/$(BIN)/python $(BIN)/pytest $(XDIST) -m "not slow" $(PYTEST_ARGS)

bench: install
	PYSPARK_PYTHON=$(CURDIR)/$(BIN)/python $(BIN)/python bench/batch_pipeline.py --events 1000000

# Risk-engine evaluation: 1,000 users x 14 days of generated LANL 2015 data with labelled attacks.
evaluate: install
	PYSPARK_PYTHON=$(CURDIR)/$(BIN)/python $(BIN)/python bench/evaluate_risk.py

# The project + its Python deps for EMR (spark.archives) and the step launcher, in dist/.
# EMR_PACKAGE_ARGS: e.g. --platform manylinux_2_34_aarch64 (Graviton), --upload (to $$AUTHPULSE_EMR_ARTIFACTS_URI)
emr-package: install
	$(BIN)/python -m authpulse_dagster.aws_emr.package --out dist $(EMR_PACKAGE_ARGS)

# Synthesize the CDK app offline into infra/cdk.out (deploying needs the CDK CLI: docs/deploy-aws.md).
cdk-synth: install
	cd infra && ../$(BIN)/python app.py

local-up: install
	$(BIN)/authpulse local up

local-down: install
	$(BIN)/authpulse local down

clean:
	-$(BIN)/authpulse local down
	rm -rf $(AUTHPULSE_HOME) dist infra/cdk.out $(JARS)
