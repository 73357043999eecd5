"""`python -m scripts.release.steps`: write the steps' calls to environments/release_steps.json."""

from scripts.release.steps._declared import main

raise SystemExit(main())
