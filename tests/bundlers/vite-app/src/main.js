import { publish, startGuardian } from "./check.js";

publish(await startGuardian());
