"""The software version of this traffic manager."""

VERSION = "21.4"
