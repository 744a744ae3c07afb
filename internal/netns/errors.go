package netns

import "errors"

var errNotLinux = errors.New("netns: network namespaces need Linux")
