"""Policy files loaded at start-up (below access: everyone reads them)."""
