// `npm run build:page`: the web page bundled into dist/page/, with the hash
// of its sources, so that the bot serves it without bundling at start-up
// (the container image runs this at build time).
import { BUILT, writePage } from "../src/web/assets.ts";

await writePage();
process.stdout.write(`build:page: the page is in ${BUILT}\n`);
