# Sourced by scripts/run and scripts/test: make .venv and install into it, once per
# version of pyproject.toml. Usage: source scripts/_venv.sh run|dev
what=$1
py=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$py" -m venv .venv
version="$(sha256sum pyproject.toml | cut -c1-16)"
stamp=".venv/.installed-$what-$version"
# A dev install has everything a run install has.
if [ ! -f "$stamp" ] && ! { [ "$what" = run ] && [ -f ".venv/.installed-dev-$version" ]; }; then
  echo "==> installing reqsignals ($what) into .venv"
  # Dependency groups (PEP 735) need pip >= 25.1.
  .venv/bin/python -m pip install -q --upgrade 'pip>=25.1'
  if [ "$what" = dev ]; then
    .venv/bin/python -m pip install -q -e '.[all]' --group dev
  else
    .venv/bin/python -m pip install -q -e '.[all]'
  fi
  touch "$stamp"
fi
