from autoglm_desktop.cli import main

raise SystemExit(main())
