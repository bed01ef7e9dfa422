#!/usr/bin/env node
import '../dist/pi-client/cli.js';
