"""Generated from proto/plugwire/v1 by generate.sh; do not edit."""
