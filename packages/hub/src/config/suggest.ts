/** "did you mean ...?" lives in @ferry/common, shared with the CLI and the SDKs. */
export { editDistance, suggestClosest as closest } from '@ferry/common';
