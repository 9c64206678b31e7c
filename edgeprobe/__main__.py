from edgeprobe.cli import main

raise SystemExit(main())
