package withdrawal

import "context"

// PeekEmailToken names the withdrawal an email link's token confirms,
// without using the token: a client that says which withdrawal it means, or
// that carries a session, can refuse a token of another withdrawal (or of
// another account's) before ConfirmEmail spends it. An unknown, used or
// voided token is ErrInvalidToken.
func (s *Service) PeekEmailToken(ctx context.Context, token string) (Withdrawal, error) {
	if token == "" {
		return Withdrawal{}, ErrInvalidToken
	}
	var w Withdrawal
	err := s.View(ctx, func(tx Tx) error {
		var err error
		w, err = tx.WithdrawalByEmailToken(ctx, tokenHash(token))
		return err
	})
	if isNotFound(err) {
		return Withdrawal{}, ErrInvalidToken
	}
	return w, err
}
