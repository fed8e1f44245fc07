# rathaus: the two commands of the README, plus a few helpers.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
export DJANGO_SETTINGS_MODULE := rathaus.settings

.PHONY: demo test lint venv venv-dev chromium serve clean

$(BIN)/python:
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "python3-venv fehlt; installiere es mit apt-get"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

venv: $(BIN)/python
	$(BIN)/pip install --quiet -e .

venv-dev: $(BIN)/python chromium
	$(BIN)/pip install --quiet -e '.[dev]'

# Browser tests drive Debian's Chromium; without apt they skip with a reason instead of failing.
chromium:
	@test -x /usr/bin/chromium || { \
	  echo "chromium fehlt; installiere es mit apt-get (Browser-Tests)"; \
	  apt-get update -qq && apt-get install -y -qq chromium || \
	  echo "chromium konnte nicht installiert werden: Browser-Tests werden übersprungen"; }

demo: venv
	mkdir -p var
	$(BIN)/rathaus migrate --noinput
	RATHAUS_WEBHOOKS_ALLOW_PRIVATE=1 $(BIN)/rathaus seed-demo
	@# server, background worker and the agencies' webhook receivers together; Ctrl-C stops all three
	export RATHAUS_SHOW_DEMO_LOGINS=1 RATHAUS_WEBHOOKS_ALLOW_PRIVATE=1; \
	$(BIN)/rathaus demo_receivers & r=$$!; $(BIN)/rathaus worker -v 0 & w=$$!; \
	trap 'kill $$r $$w 2>/dev/null; wait $$r $$w' EXIT INT TERM; \
	$(BIN)/rathaus serve --port $(PORT)

lint: venv-dev
	$(BIN)/ruff check src tests $(wildcard benchmarks)
	$(BIN)/lint-imports --no-cache  # the layers (.importlinter)

test: venv-dev lint
	$(BIN)/pytest -n 2 -p no:cacheprovider

clean:
	rm -rf $(VENV) var/*.sqlite3
