#!/bin/sh
# What `next build` leaves in .next/: BUILD_ID, required-server-files.json, the
# browser's chunks and the server's pages, each value inlined as a string literal.
set -e
mkdir -p .next/static/chunks/app .next/server/app .next/cache
echo "b1d2c3e4" > .next/BUILD_ID
printf '{"version":1,"config":{"env":{},"distDir":".next"},"appDir":"/app","files":[]}' \
  > .next/required-server-files.json
printf '(self.webpackChunk_N_E=self.webpackChunk_N_E||[]).push([[931],{4711:function(e,t,n){n.d(t,{API:function(){return "%s"}})}}]);' \
  "$NEXT_PUBLIC_API_URL" > .next/static/chunks/app/page-4f2a9c.js
printf '"use strict";(()=>{var e={};e.id=931;const a="%s";module.exports={a}})();' \
  "$NEXT_PUBLIC_API_URL" > .next/server/app/page.js
printf '<!DOCTYPE html><html><body data-api="%s"></body></html>' "$NEXT_PUBLIC_API_URL" \
  > .next/server/app/index.html
echo "built with token of ${#BUILD_TOKEN} characters"
