// Rotator kind `twilio` (issue 13 item 3). Owned by the "providers-2" helper: the account auth
// token via Twilio's secondary-token flow and Twilio API keys. Work in progress.
export {};
