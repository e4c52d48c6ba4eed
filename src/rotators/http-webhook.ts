// Rotator kind `http` (issue 13 item 4). Owned by the "providers-2" helper: a signed webhook
// contract (create -> verify -> revoke) for providers Rotor does not know. Work in progress.
export {};
