"""What a model reports about itself (local folder files, Hub card model-index) and the ranking the Space uses."""

from __future__ import annotations

import json
from pathlib import Path

from huggingface_hub import EvalResult

from asl_hf.inference.reports import ReportedScores, rank_models, reported_scores, scores_from_eval_results, scores_from_folder

BY_OTHER_SIGNERS = "accuracy on other_signers_dev (photos the models never trained on)"


def report(accuracy: float, data: str = "other_signers_dev") -> dict:
    """The fields of an ``evaluation_report.json`` (scripts/evaluate_model.py) that the ranking reads."""
    return {"model": "outputs/x", "data": f"../shared/data/{data}", "split_name": data, "accuracy": accuracy}


def test_ranking_prefers_accuracy_on_other_signers_when_every_model_reports_it():
    scores = {
        "Custom CNN": ReportedScores(0.954, other_sets={"other_signers_dev": 0.07, "asl_alphabet_test": 0.99}),
        "MobileNetV2": ReportedScores(0.995, other_sets={"other_signers_dev": 0.25, "asl_alphabet_test": 0.98}),
        "Hand landmarks": ReportedScores(0.90, other_sets={"other_signers_dev": 0.41, "asl_alphabet_test": 0.80}),
    }
    assert rank_models(scores) == (["Hand landmarks", "MobileNetV2", "Custom CNN"], BY_OTHER_SIGNERS)
    for score in scores.values():  # one shared folder, whatever its name, is the number to rank by
        del score.other_sets["other_signers_dev"]
    assert rank_models(scores) == (["Custom CNN", "MobileNetV2", "Hand landmarks"],
                                   "accuracy on asl_alphabet_test (photos the models never trained on)")
    scores["Hand landmarks"].other_sets = {}  # not every model reports it: the test accuracy decides
    assert rank_models(scores) == (["MobileNetV2", "Custom CNN", "Hand landmarks"], "reported test accuracy")
    assert rank_models({}) == ([], "reported test accuracy")


def fake_trained_folder(folder: Path, test_accuracy: float, other_signers: float | None) -> Path:
    """The files ``asl_hf.hub.model_card`` reads from a training output folder (weights left empty: the card only needs
    them to exist), with an ``eval_other_signers_dev`` report when ``other_signers`` is given."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "asl_cnn", "image_size": 32, "conv_channels": [8], "hidden_size": 8}))
    (folder / "model.safetensors").write_bytes(b"")
    (folder / "all_results.json").write_text(json.dumps({"test_accuracy": test_accuracy, "test_macro_f1": test_accuracy - 0.01,
                                                         "eval_accuracy": test_accuracy + 0.01, "eval_macro_f1": test_accuracy}))
    if other_signers is not None:
        (folder / "eval_other_signers_dev").mkdir()
        (folder / "eval_other_signers_dev" / "evaluation_report.json").write_text(
            json.dumps({**report(other_signers), "macro_f1": other_signers / 2, "num_images": 1512}))
    return folder


def serve_cards(monkeypatch, cards: dict[str, str]) -> None:
    """``ModelCard.load(repo_id)`` answers from ``cards`` (README texts) and the Hub counts as reachable: no network."""
    import huggingface_hub

    import asl_hf.inference.loading

    def load(repo_id, *args, **kwargs):
        if repo_id not in cards:
            raise FileNotFoundError(f"{repo_id}: no README.md")  # what a missing card is: no numbers
        return huggingface_hub.ModelCard(cards[repo_id])

    monkeypatch.setattr(huggingface_hub.ModelCard, "load", load)
    monkeypatch.setattr(asl_hf.inference.loading, "hub_reachable", lambda: True)


def test_hub_models_are_ranked_by_the_other_signer_accuracy_their_cards_report(tmp_path, monkeypatch):
    import asl_hf.inference.loading
    from asl_hf.hub.model_card import build_model_card

    cards, folders = {}, {}
    for name, test_accuracy, other_signers in (("Custom CNN", 0.954, 0.07), ("MobileNetV2", 0.995, 0.25), ("Hand landmarks", 0.90, 0.41)):
        repo_id = "user/" + name.lower().replace(" ", "-")
        folders[name] = fake_trained_folder(tmp_path / repo_id, test_accuracy, other_signers)
        cards[repo_id] = str(build_model_card(folders[name], repo_id))
    serve_cards(monkeypatch, cards)

    scores = reported_scores("user/hand-landmarks")
    assert (scores.accuracy, scores.macro_f1, scores.split, scores.other_sets) == (0.9, 0.89, "test", {"other_signers_dev": 0.41})
    from_cards = {name: reported_scores("user/" + name.lower().replace(" ", "-")) for name in folders}
    assert rank_models(from_cards) == (["Hand landmarks", "MobileNetV2", "Custom CNN"], BY_OTHER_SIGNERS)
    # the same numbers and ranking as from the local folders the cards were built from
    from_folders = {name: scores_from_folder(folder) for name, folder in folders.items()}
    assert rank_models(from_folders) == rank_models(from_cards)
    assert {n: s.other_sets for n, s in from_folders.items()} == {n: s.other_sets for n, s in from_cards.items()}
    # a card without other test sets (published before they were evaluated): the test accuracy decides for all
    cards["user/hand-landmarks"] = str(build_model_card(fake_trained_folder(tmp_path / "old", 0.90, None), "user/hand-landmarks"))
    from_cards["Hand landmarks"] = reported_scores("user/hand-landmarks")
    assert rank_models(from_cards) == (["MobileNetV2", "Custom CNN", "Hand landmarks"], "reported test accuracy")
    assert reported_scores("user/no-card") == ReportedScores()
    monkeypatch.setattr(asl_hf.inference.loading, "hub_reachable", lambda: False)  # offline: no card, no numbers, no error
    assert reported_scores("user/custom-cnn") == ReportedScores()


def test_card_eval_results_split_into_the_training_data_and_other_test_sets():
    def entry(dataset: str, split: str, metric: str, value: float) -> EvalResult:
        return EvalResult(task_type="image-classification", dataset_type=dataset.lower(), dataset_name=dataset,
                          dataset_split=split, metric_type=metric, metric_value=value)

    results = [entry("ASL Alphabet", "test", "accuracy", 0.95), entry("ASL Alphabet", "test", "f1", 0.94),
               entry("ASL Alphabet", "validation", "accuracy", 0.97), entry("other_signers_dev", "test", "accuracy", 0.3),
               entry("other_signers_dev", "test", "f1", 0.2), entry("asl_alphabet_test", "test", "accuracy", 0.99)]
    scores = scores_from_eval_results(results)
    assert (scores.split, scores.accuracy, scores.macro_f1) == ("test", 0.95, 0.94)
    assert scores.other_sets == {"other_signers_dev": 0.3, "asl_alphabet_test": 0.99}
    validation_only = scores_from_eval_results(results[2:3])
    assert (validation_only.split, validation_only.accuracy, validation_only.macro_f1) == ("validation", 0.97, None)
    assert scores_from_eval_results([]) == ReportedScores()


def test_a_folder_says_which_data_and_split_its_numbers_are_on(tmp_path):
    (tmp_path / "eval_results.json").write_text(json.dumps({"test_accuracy": 0.9, "test_macro_f1": 0.8}))
    (tmp_path / "dataset_info.json").write_text(json.dumps({"train_dir": "/data/asl_alphabet_sample", "split_by": "group", "num_test": 435}))
    scores = scores_from_folder(tmp_path)
    assert (scores.accuracy, scores.split, scores.data) == (0.9, "test", "`asl_alphabet_sample`, grouped split, 435 test images")
    assert scores_from_folder(tmp_path / "missing") == ReportedScores()
