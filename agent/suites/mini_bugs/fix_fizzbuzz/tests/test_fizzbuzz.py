from fizzbuzz import fizzbuzz


def test_plain_and_single():
    assert [fizzbuzz(i) for i in (1, 3, 5)] == ["1", "Fizz", "Buzz"]


def test_both():
    assert fizzbuzz(15) == "FizzBuzz"
    assert fizzbuzz(45) == "FizzBuzz"
