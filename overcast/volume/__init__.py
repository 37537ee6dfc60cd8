"""Block storage: OpenStack's Cinder v3 API (volumes, types, snapshots, backups, attachments),
its scheduler, its volume agents and their drivers."""
