"""Protocol constants of the MixEval benchmark.

These strings are the benchmark's wire format: the instructions appended to every
question, the five-shot prefixes given to base models, and the messages sent to the
model-parser judge. They are reproduced byte for byte from the MixEval suite by the
MixEval authors (Jinjie Ni et al., https://mixeval.github.io/, MIT licence), because a
single changed character changes what models answer and how judges score them.

Keep every protocol string here and nowhere else.
"""

# Instructions appended to the formatted question (MixEval authors).
MULTI_CHOICE_INSTRUCTION = 'Answer with the option letter from the given choices directly.'
FREE_FORM_DEFAULT_INSTRUCTION = 'Answer the question shortly.'
FREE_FORM_INSTRUCTION_BY_BENCHMARK = {
    'BBH': "Answer the question. \nLet's think step by step.",
    'GSM8k': "Answer the question. \nLet's think step by step.",
    'MATH': "Answer the question. \nLet's think step by step.",
}

# Five-shot prefixes put in front of every input of a base (not chat) model
# (MixEval authors). The strings hold control characters on purpose.
FIVE_SHOT_PREFIX_FREEFORM = (
    'Question: The volume of a cone is given by the formula $V = \x0crac{1}{3}Bh$, where $B$ is the area of the base and $h$ is the height. The area of the base of a cone is 30 square units, and its height is 6.5 units. What is the number of cubic units in its volume?\n'
    'Answer the question. \n'
    "Let's think step by step.\n"
    'Given:\n'
    'The formula for the volume of a cone is $V = \x0crac{1}{3}Bh$\n'
    'The area of the base (B) is 30 square units\n'
    'The height (h) is 6.5 units\n'
    'Step 1: Identify the values for B and h.\n'
    'B = 30 square units\n'
    'h = 6.5 units\n'
    'Step 2: Substitute the values into the formula.\n'
    '$V = \x0crac{1}{3} \times 30 \times 6.5$\n'
    'Step 3: Multiply the values.\n'
    '$V = \x0crac{1}{3} \times 195$\n'
    'Step 4: Simplify the fraction.\n'
    '$V = 65$ cubic units\n'
    'So the final answer is: 65.\n'
    '\n'
    '\n'
    'Question: As of the census of 2000, there were 7,791 people, 3,155 households, and 2,240 families residing in the county.  The population density was 16 people per square mile (6/km²).  There were 3,723 housing units at an average density of 8 per square mile (3/km²).  The racial makeup of the county was 97.63% Race (United States Census), 0.18% Race (United States Census) or Race (United States Census), 1.07% Race (United States Census), 0.19% Race (United States Census), 0.03% Race (United States Census), 0.22% from Race (United States Census), and 0.69% from two or more races.  1.26% of the population were Race (United States Census) or Race (United States Census) of any race. 33.7% were of germans, 13.9% swedish people, 10.1% irish people, 8.8% united states, 7.0% english people and 5.4% Danish people ancestry according to Census 2000.\n'
    'Which group is smaller according to the census: households or families?\n'
    'Answer the question shortly.\n'
    'families\n'
    '\n'
    '\n'
    'Question: Sort the following words alphabetically: List: behold oxalic maybe hew steel termcap pray stiffen dissipate misogyny format dew\n'
    'Answer the question. \n'
    "Let's think step by step.\n"
    'To sort the words alphabetically, we can follow these steps:\n'
    'List the words as given.\n'
    'Compare the first letter of each word.\n'
    'If the first letters are the same, compare the second letters, and so on.\n'
    'Arrange them in alphabetical order based on these comparisons.\n'
    'Here are the words given:\n'
    'behold\n'
    'oxalic\n'
    'maybe\n'
    'hew\n'
    'steel\n'
    'termcap\n'
    'pray\n'
    'stiffen\n'
    'dissipate\n'
    'misogyny\n'
    'format\n'
    'dew\n'
    'So the final answer is:\n'
    'behold\n'
    'dew\n'
    'dissipate\n'
    'format\n'
    'hew\n'
    'maybe\n'
    'misogyny\n'
    'oxalic\n'
    'pray\n'
    'steel\n'
    'stiffen\n'
    'termcap\n'
    '\n'
    '\n'
    'Question: when was the last time ku won the championship\n'
    'Answer the question shortly.\n'
    '2022\n'
    '\n'
    '\n'
    "Question: Hoping to rebound from their divisional loss to the Jaguars, the Texans stayed at home for a Week 4 duel with the Oakland Raiders.  Houston delivered the opening shot of the first quarter with kicker Kris Brown's 26-yard field goal, followed by the Raiders tying the game with a 46-yard field goal from kicker Sebastian Janikowski.  The Texans would take full command in the second quarter as Brown nailed a 34-yard field goal, followed by running back Steve Slaton getting a 32-yard touchdown run and catching an 18-yard touchdown pass from quarterback Matt Schaub.  Oakland would close out the half with Janikowski's 33-yard field goal.  In the third quarter, Houston would continue its domination with rookie linebacker Brian Cushing tackling Raiders running back Justin Fargas in his own endzone for a safety, immediately followed by wide receiver Jacoby Jones returning a kickoff 95 yards for a touchdown.\n"
    'How many yards was the second longest field goal?\n'
    'Answer the question shortly.\n'
    '34\n'
    '\n'
    '\n'
)
FIVE_SHOT_PREFIX_MULTIPLECHOICE = (
    'According to cell classification, prokaryotic cells are separated from eukaryotic cells. Which feature is often used to distinguish prokaryotic cells from eukaryotic cells?\n'
    'A. life processes\n'
    'B. size differences\n'
    'C. plasma membranes\n'
    'D. energy molecules\n'
    'Answer with the option letter from the given choices directly.\n'
    'B\n'
    '\n'
    'As with other games in The Elder Scrolls series, the game is set on the continent of Tamriel. The events of the game occur a millennium before those of The Elder Scrolls V: Skyrim and around 800 years before The Elder Scrolls III: Morrowind and The Elder Scrolls IV: Oblivion. It has a broadly similar structure to Skyrim, with two separate conflicts progressing at the same time, one with the fate of the world in the balance, and one where the prize is supreme power on Tamriel. In The Elder Scrolls Online, the first struggle is against the Daedric Prince Molag Bal, who is attempting to meld the plane of Mundus with his realm of Coldharbour, and the second is to capture the vacant imperial throne, contested by three alliances of the mortal races. The player character has been sacrificed to Molag Bal, and Molag Bal has stolen their soul, the recovery of which is the primary game objective.\n'
    'is elder scrolls online the same as skyrim\n'
    'A. No\n'
    'B. Yes\n'
    'Answer with the option letter from the given choices directly.\n'
    'A\n'
    '\n'
    'connection\n'
    'You can share files with someone if you have a connection to a what?\n'
    'A. freeway\n'
    'B. radio\n'
    'C. wires\n'
    'D. computer network\n'
    'E. electrical circuit\n'
    'Answer with the option letter from the given choices directly.\n'
    'D\n'
    '\n'
    "Approximately what percentage of participants in Milgram's obedience experiments thought they delivered the maximum amount of shock possible?\n"
    'A. 0\n'
    'B. 20\n'
    'C. 40\n'
    'D. 60\n'
    'Answer with the option letter from the given choices directly.\n'
    'D\n'
    '\n'
    'How to check your Facebook feed\n'
    'Which solution is correct?\n'
    'A. Log in to Facebook. Click on the bell shaped button at the top right of your Facebook home window.\n'
    'B. Log in to Facebook. Click on the bell shaped button at the top left of your Facebook home window.\n'
    'Answer with the option letter from the given choices directly.\n'
    'A\n'
    '\n'
)

# Judge messages of the model parser (MixEval authors). Placeholders:
# {{PROMPT}}, {{GOLD_ANSWERS}}, {{OPTIONS}}, {{RESPONSE}}.
JUDGE_MESSAGES_FREEFORM = (
    {
        'role': 'system',
        'content': (
            'In this task, I want you to act as a judge.'
        ),
    },
    {
        'role': 'user',
        'content': (
            'You will be provided with a question, its golden answer(s), and the model\'s answer, while the context of the question is not given here. Your task is to judge how correct the model\'s answer is based on the golden answer(s), without seeing the context of the question, and then give a correctness score. The correctness score should be one of the below numbers: 0.0 (totally wrong), 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, or 1.0 (totally right). Your should first briefly give your reasoning process regarding how the model\'s answer conforms to or contradicts the golden answer(s), and then give the correctness score. The correctness score must strictly follow this format: "[[score]]", e.g., "The correctness score: [[0.5]]". Below are some examples. \n'
            '\n'
            'Example 1: \n'
            'Question: Sandy bought 1 million Safe Moon tokens. She has 4 siblings. She wants to keep half of them to herself and divide the remaining tokens among her siblings. After splitting it up, how many more tokens will she have than any of her siblings?\n'
            'Golden Answer(s): <answer 1> 375000\n'
            "Model's Answer: Sandy will have more tokens than any sibling by 3/8 million.\n"
            "Your Judgment: The golden answer states that Sandy will have 375,000 more tokens than any of her siblings, which is a precise numerical value. The model's answer translates this scenario into a fraction of the total, saying Sandy will have more tokens than any sibling by 3/8 million. 1 million tokens * 3/8 = 375,000 tokens. So the model provided an answer in fractional form that, when converted to a numerical value, exactly matches the golden answer's quantity. The correctness score: [[1.0]].\n"
            '\n'
            'Example 2: \n'
            'Question: what car was used in the movie christine\n'
            'Golden Answer: <answer 1> a vintage 1958 Plymouth Fury; <answer 2> 1958 Plymouth Fury\n'
            "Model's Answer: Christine.\n"
            'Your Judgment: The golden answers specify the car used in the movie "Christine" as a vintage 1958 Plymouth Fury, providing a clear and detailed response including the make, model, and year of the car. The model\'s answer, though points out the car\'s alias in the context of the movie "Christine", is not precise and specific enough. The correctness score: [[0.5]].\n'
            '\n'
            'Example 3: \n'
            'Question: In 2015 Edgar Lungu became prime minister of?\n'
            'Golden Answer: <answer 1> Zambia; <answer 2> Zamibia; <answer 3> People of Zambia; <answer 4> Zambian cuisine; <answer 5> Zambians; <answer 6> Culture of Zambia; <answer 7> Etymology of Zambia; <answer 8> Zambia; <answer 9> Health care in Zambia; <answer 10> ISO 3166-1:ZM; <answer 11> Republic Of Zambia; <answer 12> Cuisine of Zambia; <answer 13> Sport in Zambia; <answer 14> Republic of Zambia; <answer 15> Zambian people; <answer 16> Name of Zambia\n'
            "Model's Answer: Prime Minister\n"
            'Your Judgment: The golden answers provide a detailed list of entities all relating to Zambia, indicating that Edgar Lungu became the leader (specifically, they mentioned "prime minister") of Zambia in 2015. The model\'s answer, "Prime Minister," merely repeats part of the question without answering it. The correctness score: [[0.0]].\n'
            '\n'
            "Note that each one of the golden answers is considered correct. Thus if the model's answer matches any one of the golden answers, it should be considered correct. Judge the below case, give the brief reasoning process and the correctness score.\n"
            '\n'
            'Question: {{PROMPT}}\n'
            'Golden Answer(s): {{GOLD_ANSWERS}}\n'
            "Model's Answer: {{RESPONSE}}\n"
            'Your Judgment: \n'
        ),
    },
)
JUDGE_MESSAGES_MULTICHOICE = (
    {
        'role': 'system',
        'content': (
            'In this task, I want you to act as an option extractor.'
        ),
    },
    {
        'role': 'user',
        'content': (
            'You will be provided with a multiple-choice question, its options, and the model\'s answer, while the context of the question is not given here. Your task is to extract or judge which option is chosen by the model based on its response, without seeing the context of the question. The extracted option should be one of the provided option letters. Your should first briefly give your reasoning process, and then give the extracted option letter. The extracted option must strictly follow this format: "[[option letter]]", e.g., "The option chosen by the model: [[A]]".\n'
            'Below are some examples. \n'
            '\n'
            'Example 1: \n'
            'Question: Which technology was developed most recently?\n'
            'Options:\n'
            'A. cellular telephone\n'
            'B. television\n'
            'C. refrigerator\n'
            'D. airplane\n'
            "Model's Answer: The technology that was developed most recently is D. airplane.\n"
            'Your Judgment: The model\'s response directly identifies "D. airplane" as the technology that was developed most recently. This indicates that the chosen option is D. The option chosen by the model: [[D]].\n'
            '\n'
            'Example 2: \n'
            'Question: What monotheistic religion is based on the life and teachings of Jesus Christ of Nazareth?\n'
            'Options:\n'
            'A. Islam\n'
            'B. Christianity\n'
            'C. Hinduism\n'
            'D. Buddhism\n'
            "Model's Answer: B\n"
            '\n'
            'What is the name of the first person to be executed by the electric chair?\n'
            'A. John Wilkes Booth\n'
            'B. William Kemmler\n'
            'C. John Dillinger\n'
            'D. Bonnie and Clyde\n'
            'Answer with the option letter \n'
            'Your Judgment: The model\'s response clearly identifies "B. Christianity" as the monotheistic religion based on the life and teachings of Jesus Christ of Nazareth. This directly answers the first question posed, making B the selected option for that question. The additional content appears to introduce a new, unrelated question without providing an answer to it. The option chosen by the model: [[B]].       \n'
            '\n'
            'Example 3: \n'
            'Question: Which solution is correct?\n'
            'Options:\n'
            'A. provide homes for people\n'
            'B. provide homes for animals\n'
            'Model\'s Answer: Neither A nor B is entirely correct because trees do not "provide homes" in the traditional sense. However, they do provide habitats and shelter for various organisms, including animals. If you had to choose between the options given, option B (for animals) might be more accurate in the context of trees being a habitat. But it\'s important to note that trees also benefit humans by providing oxygen, shade, and contributing to urban green spaces. If you need to select one option, I would suggest:\n'
            '\n'
            'B. provide homes for animals\n'
            'Your Judgment: The model\'s response indicates a preference for option B, mentioning that if one had to choose between the given options, "B. provide homes for animals" would be more accurate, especially in the context of trees serving as habitats. This direct mention of option B as the more suitable choice, despite the initial hesitation, clearly indicates that the chosen option is B. The option chosen by the model: [[B]].\n'
            '\n'
            'Question: {{PROMPT}}\n'
            'Options: \n'
            '{{OPTIONS}}\n'
            "Model's Answer: {{RESPONSE}}\n"
            'Your Judgment: \n'
        ),
    },
)
