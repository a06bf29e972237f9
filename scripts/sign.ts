// Signs what the bot asks a demo user to sign, with that user's demo wallet.
//
// usage: npm run sign -- NAME            then paste the message, end with Ctrl-D
//        (a `!link` message is signed as text; an `!authorize` JSON as typed data)
import { keccak256, toUtf8Bytes, Wallet } from "ethers";

const name = process.argv[2];
if (!name) {
  console.error("usage: npm run sign -- NAME   (alice, bob, carol or dave), then paste the message and press Ctrl-D");
  process.exit(2);
}
const wallet = new Wallet(keccak256(toUtf8Bytes(`conclave demo wallet: ${name}`)));
let input = "";
for await (const chunk of process.stdin) input += String(chunk);
input = input.replace(/\r/g, "").trim();
const at = input.indexOf("{");
if (at >= 0) {
  const typed = JSON.parse(input.slice(at)) as {
    domain: Record<string, unknown>;
    types: Record<string, { name: string; type: string }[]>;
    message: Record<string, unknown>;
  };
  console.log(`!authorize ${await wallet.signTypedData(typed.domain, typed.types, typed.message)}`);
} else {
  const start = input.indexOf("Conclave: link my address");
  console.log(`!verify ${await wallet.signMessage(start >= 0 ? input.slice(start) : input)}`);
}
