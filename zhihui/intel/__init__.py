"""情报 (intelligence): key persons and leads, activity data, and the tactics (技战法) over them."""
