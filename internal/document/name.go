package document

import (
	"mime"
	"strings"
)

// NameHasPath tells whether an upload part's file name, as the client sent
// it in Content-Disposition, carries a path: a directory separator, a
// drive, a parent or current directory, or a NUL. Browsers send the bare
// name; a path is a client probing for traversal. Warden never uses the
// name (the content says what a file is), yet such an upload is refused
// rather than quietly stored. disposition is the part's raw header:
// mime/multipart's FileName would strip the path before it can be seen.
func NameHasPath(disposition string) bool {
	_, params, err := mime.ParseMediaType(disposition)
	if err != nil {
		return false // no parsable name: nothing to judge
	}
	name, ok := params["filename"]
	if !ok {
		return false
	}
	return strings.ContainsAny(name, "/\\\x00") || name == "." || name == ".." || (len(name) >= 2 && name[1] == ':')
}
