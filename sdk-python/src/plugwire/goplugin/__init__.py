"""Generated from proto/go-plugin by generate.sh; do not edit."""
