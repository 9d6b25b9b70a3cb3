package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// MaxBodyBytes bounds every JSON request body (API.md: 1 MiB).
const MaxBodyBytes = 1 << 20

// decodeJSON reads the request body into dst, strictly: the content type must
// be JSON, the body at most MaxBodyBytes, exactly one JSON value, no unknown
// fields and every field of the right type. Any failure is a problem that
// names what is wrong, and dst is not to be used.
func decodeJSON(r *http.Request, dst any) *Problem {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mediaType, _, err := mime.ParseMediaType(ct)
		if err != nil || (mediaType != "application/json" && !strings.HasSuffix(mediaType, "+json")) {
			return NewProblem(http.StatusUnsupportedMediaType, "unsupported_media_type",
				fmt.Sprintf("send the body as application/json, not %q", ct))
		}
	} else if r.ContentLength != 0 {
		return NewProblem(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as application/json")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return errTooLarge()
		}
		return NewProblem(http.StatusBadRequest, "invalid_json", "the request body could not be read")
	}
	if len(body) > MaxBodyBytes {
		return errTooLarge()
	}
	return decodeJSONBytes(body, dst)
}

func errTooLarge() *Problem {
	return NewProblem(http.StatusRequestEntityTooLarge, "payload_too_large",
		fmt.Sprintf("the request body is larger than %d bytes", MaxBodyBytes))
}

// decodeJSONBytes is decodeJSON's parser, apart so that it can be fuzzed.
func decodeJSONBytes(body []byte, dst any) *Problem {
	if len(bytes.TrimSpace(body)) == 0 {
		return NewProblem(http.StatusBadRequest, "invalid_json", "the request body is empty; send a JSON object")
	}
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD, so a
	// password or token would silently become something else: refuse it.
	if !utf8.Valid(body) {
		return NewProblem(http.StatusBadRequest, "invalid_json", "the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return NewProblem(http.StatusBadRequest, "invalid_json", "the request body holds more than one JSON value")
	}
	return nil
}

func jsonProblem(err error) *Problem {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr):
		return NewProblem(http.StatusBadRequest, "invalid_json",
			fmt.Sprintf("malformed JSON at byte %d: %s", syntaxErr.Offset, syntaxErr.Error()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return NewProblem(http.StatusBadRequest, "invalid_json", "the JSON body ends too early")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return NewProblem(http.StatusBadRequest, "invalid_json",
				fmt.Sprintf("the body must be a JSON %s, not %s", kindOf(typeErr.Type.Kind().String()), typeErr.Value))
		}
		return errValidation(FieldError{Field: field, Code: "wrong_type",
			Detail: fmt.Sprintf("must be %s, not %s", kindOf(typeErr.Type.Kind().String()), typeErr.Value)})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errValidation(FieldError{Field: name, Code: "unknown_field", Detail: "this field is not part of the request"})
	default:
		return NewProblem(http.StatusBadRequest, "invalid_json", "the request body is not valid JSON")
	}
}

func kindOf(k string) string {
	switch k {
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "a whole number"
	case "float32", "float64":
		return "a number"
	}
	return k
}

// fieldErrors collects validation failures for one request.
type fieldErrors []FieldError

func (fe *fieldErrors) add(field, code, detail string) {
	*fe = append(*fe, FieldError{Field: field, Code: code, Detail: detail})
}

// password checks that a password field was sent and is of a length any
// password can have (the policy proper is the account package's): one rule
// for every request that carries one.
func (fe *fieldErrors) password(field, value, detail string) {
	if value == "" || len(value) > 1024 {
		fe.add(field, "required", detail)
	}
}

// token requires an email link's token: present, and no longer than any
// token Warden issues.
func (fe *fieldErrors) token(value, detail string) {
	if value == "" || len(value) > 200 {
		fe.add("token", "required", detail)
	}
}

// problem returns a validation problem, or nil when nothing was added.
func (fe fieldErrors) problem() *Problem {
	if len(fe) == 0 {
		return nil
	}
	return errValidation(fe...)
}
