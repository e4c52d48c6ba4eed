// Every command's registration, in help order. A new command is a file plus one line here.
import type { Command } from 'commander';
import type { Wrap } from '../program.js';
import { registerApply } from './apply.js';
import { registerAudit } from './audit.js';
import { registerDb } from './db.js';
import { registerDemo } from './demo.js';
import { registerExport } from './export.js';
import { registerGet } from './get.js';
import { registerImport } from './import.js';
import { registerCheck } from './check.js';
import { registerInit } from './init.js';
import { registerJwks } from './jwks.js';
import { registerMasterKey } from './master-key.js';
import { registerOperator } from './operator.js';
import { registerResume } from './resume.js';
import { registerRetire } from './retire.js';
import { registerRotate } from './rotate.js';
import { registerRun } from './run.js';
import { registerScheduler } from './scheduler.js';
import { registerSchema } from './schema.js';
import { registerServe } from './serve.js';
import { registerSessions } from './sessions.js';
import { registerStatus } from './status.js';
import { registerToken } from './token.js';

export const COMMANDS: ReadonlyArray<(program: Command, wrap: Wrap) => void> = [registerInit, registerApply, registerImport, registerStatus, registerCheck, registerRotate, registerResume, registerRetire, registerScheduler, registerDb, registerSessions, registerGet, registerJwks, registerRun, registerExport, registerAudit, registerMasterKey, registerOperator, registerToken, registerServe, registerSchema, registerDemo];
