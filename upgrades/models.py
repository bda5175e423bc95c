"""Software versions and upgrades (the upgrade issue fills this in)."""
