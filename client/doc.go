// Package client is a typed Go client for Warden's APIs, for the platforms
// that run Warden: the admin API their back end calls with an admin key,
// the user API their front ends or back ends call for their users, and the
// verification of the webhooks Warden sends them.
//
//	wc, err := client.New("https://security.example.com", client.WithAdminKey(os.Getenv("WARDEN_ADMIN_KEY")))
//
//	// The hot path: who is this session token?
//	in, err := wc.Introspect(ctx, token)
//	if err != nil || !in.Active || in.Frozen { … refuse … }
//
//	// A user's withdrawal: amounts are decimal strings, never floats.
//	u := wc.User(sessionToken, deviceToken)
//	w, err := u.RequestWithdrawal(ctx, client.WithdrawalRequest{Asset: "BTC", Network: "bitcoin", Amount: "0.015", AddressID: id})
//	if errors.Is(err, client.ErrLimitExceeded) { … }
//
// # Errors
//
// Every error answer is an *Error carrying Warden's stable code
// (limit_exceeded, invalid_credentials, …), the field errors and the
// code-specific members (RetryAfter, Until, Limits, …). Match codes with
// errors.Is and an ErrCode: errors.Is(err, client.ErrCode("address_on_hold")),
// or one of the ErrCode constants. Network failures are returned as the
// transport's errors, wrapped.
//
// # Retries
//
// Calls that are safe to repeat are retried after network errors and 429,
// 502, 503 and 504 answers (see RetryPolicy); every other call is sent
// once:
//
//	retried                                   not retried
//	every GET                                 logins, challenges, confirmations
//	POST /admin/v1/sessions/introspect        approve/reject (withdrawals, verifications)
//	POST /admin/v1/events (idempotent by id)  alerts resolve, restrict, lift, unfreeze
//	PUT /admin/v1/prices                      address book changes, cancel, logout
//	POST …/withdrawals/{id}/complete (txid)   webhook endpoint changes
//	POST /v1/withdrawals (Idempotency-Key)
//
// A withdrawal request always carries an Idempotency-Key (made when not
// given) and every retry sends the same key, so Warden answers a repeat with
// the first withdrawal (Withdrawal.Replayed) instead of making another.
//
// # Webhooks
//
// VerifyWebhook checks a delivery's Standard Webhooks signature and
// timestamp and decodes its event; Webhook.WithdrawalApproved decodes the
// payout instruction. examples/payout-receiver is a complete receiver.
package client
