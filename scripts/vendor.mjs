// Copies the pinned npm front-end libraries into static/vendor, where the pages load them from.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const files = {
  "sortablejs/modular/sortable.core.esm.js": "sortable.esm.js",
  "chart.js/dist/chart.umd.js": "chart.umd.js",
};
const out = join(root, "static", "vendor");
mkdirSync(out, { recursive: true });
for (const [src, dest] of Object.entries(files)) {
  copyFileSync(join(root, "node_modules", src), join(out, dest));
}
console.log(`vendored ${Object.keys(files).length} files into static/vendor`);
