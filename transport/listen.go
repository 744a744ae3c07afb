package transport

import "io/fs"

// DefaultUnixMode is the permission of a unix path socket unless configured:
// only the node's user may connect.
const DefaultUnixMode fs.FileMode = 0o600
