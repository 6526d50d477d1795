# The two commands of the README:
#   make demo   run the controller on the worked example (validate and status)
#   make test   install what the tests need and run the whole suite
PYTHON ?= python3
VENV := .venv
DEMO := .demo
# The worked example's story ends on this day; status is shown as of then. Override with NOW=...
NOW ?= 2026-11-24T12:00:00Z

.PHONY: demo test venv system-deps bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

system-deps:
	./scripts/install-system-deps.sh

demo: system-deps venv
	@$(VENV)/bin/python scripts/example_repo.py $(DEMO)/repo >/dev/null
	@echo "== the worked example, replayed into a git repository at $(DEMO)/repo"
	@git -C $(DEMO)/repo log --format='   %ad  %an: %s' --date=short | tail -n +1 | head -8; echo "   ..."
	@echo "== rolloutctl validate"
	@$(VENV)/bin/rolloutctl --repo $(DEMO)/repo validate --now $(NOW)
	@echo "== rolloutctl status --now $(NOW)"
	@$(VENV)/bin/rolloutctl --repo $(DEMO)/repo status --now $(NOW)
	@echo
	@echo "Look further with: $(VENV)/bin/rolloutctl --repo $(DEMO)/repo status argus/1.7.4 --format json"
	@echo "The example's files are in releases/, adopters/ and repos-config/; docs/guide.md explains them."

test: system-deps venv
	$(VENV)/bin/python -m pytest -q

bench: venv
	$(VENV)/bin/python bench/validate_bench.py

clean:
	rm -rf $(VENV) $(DEMO) *.egg-info
