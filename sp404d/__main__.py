from sp404d.cli import main

raise SystemExit(main())
