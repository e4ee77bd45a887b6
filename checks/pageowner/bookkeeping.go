package pageowner

import "github.com/leakgate/leakgate/checks/kmemleak"

// BookkeepingReason says why a stack's pages are the leak detectors' own
// memory or carry no allocation stack at all — to be charted, never judged
// as the product's — or "" for an ordinary stack. It reads the frames:
//
//   - page_owner's dummy handle (mm/page_owner.c, 6.12: save_stack returns it
//     while page_owner is itself saving a stack, so it holds the stack
//     depot's pool pages and page_owner's own list; it grows as new stacks
//     are seen), recognised by its register_dummy_stack frame;
//   - its failure handle (register_failure_stack): pages whose stack could
//     not be saved — real memory, but with no culprit to name;
//   - kmemleak's object metadata (mm/kmemleak.c: __alloc_object,
//     mem_pool_alloc, __create_object, __link_object), which grows with every
//     object kmemleak tracks.
func BookkeepingReason(frames []kmemleak.Frame) string {
	for _, f := range frames {
		switch kmemleak.NormaliseFunction(f.Function) {
		case "register_dummy_stack":
			return "page_owner's own stack storage (pages allocated while page_owner saved a stack)"
		case "register_failure_stack":
			return "pages whose allocation stack page_owner could not save"
		case "__alloc_object", "mem_pool_alloc", "__create_object", "create_object", "__link_object":
			return "kmemleak's own object metadata"
		}
	}
	return ""
}
